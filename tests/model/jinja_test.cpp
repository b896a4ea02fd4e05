// Unit tests of the Jinja2 interpreter behind ChatTemplate. The table's expected strings were produced by
// Jinja2 3.1.6 itself, configured as transformers configures it (ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, loopcontrols, its tojson/raise_exception/strftime_now), so they are the reference engine's
// output, not ours.
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/jinja_globals.h"
#include "synaptix/model/jinja_lexer.h"
#include "synaptix/model/jinja_value.h"

namespace synaptix::model {
namespace {

// Renders `tmpl` with `vars` as the template context; messages/add_generation_prompt go through the API.
std::string render(const std::string& tmpl, nlohmann::json vars = nlohmann::json::object()) {
  nlohmann::json messages = vars.contains("messages") ? vars["messages"] : nlohmann::json::array();
  bool add_generation_prompt = vars.value("add_generation_prompt", false);
  vars.erase("messages");
  vars.erase("add_generation_prompt");
  return ChatTemplate(tmpl).render(messages, add_generation_prompt, vars);
}

std::string error_of(const std::string& tmpl, nlohmann::json vars = nlohmann::json::object()) {
  try {
    render(tmpl, std::move(vars));
  } catch (const synaptix::Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct ReferenceCase {
  const char* tmpl;
  const char* vars;
  const char* expected;
};

// template, context (JSON), what Jinja2 renders.
const ReferenceCase kReferenceCases[] = {
    {R"J({% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }} {% endfor %})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(1/0/4/3/True/False/4 2/1/3/2/False/False/4 3/2/2/1/False/False/4 4/3/1/0/False/True/4 )J"},
    {R"J(a
  {% if true %}
    x
  {% endif %}
b
)J",
     R"J({})J",
     R"J(a
    x
b)J"},
    {R"J(a  {%- if true -%}  x  {%- endif -%}  b)J",
     R"J({})J",
     R"J(axb)J"},
    {R"J(a
  {{- 'x' -}}  
b)J",
     R"J({})J",
     R"J(axb)J"},
    {R"J(  {% if true %}x{% endif %})J",
     R"J({})J",
     R"J(x)J"},
    {R"J({{ 'a' }}  {% if true %}x{% endif %})J",
     R"J({})J",
     R"J(a  x)J"},
    {R"J({# comment #}
A
  {# c2 #}
B)J",
     R"J({})J",
     R"J(A
B)J"},
    {R"J(x {%+ if true %}y{% endif +%}
z)J",
     R"J({})J",
     R"J(x y
z)J"},
    {R"J({% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %})J",
     R"J({})J",
     R"J(012)J"},
    {R"J({% for i in range(5) %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %})J",
     R"J({})J",
     R"J(024)J"},
    {R"J({% for i in [] %}{{ i }}{% else %}empty{% endfor %})J",
     R"J({})J",
     R"J(empty)J"},
    {R"J({% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %})J",
     R"J({"d": {"a": 1, "b": [1, 2], "c": null}})J",
     R"J(a=1;b=[1, 2];c=None;)J"},
    {R"J({% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.content }}|{{ loop.length }} {% endfor %})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(1:What is 2+2?|2 2:  And 3+3?  |2 )J"},
    {R"J({% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.n = ns.n + 1 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(True 2)J"},
    {R"J({% set x = 1 %}{% for i in range(3) %}{% set x = i %}{% endfor %}{{ x }})J",
     R"J({})J",
     R"J(1)J"},
    {R"J({{ messages[::-1] | map(attribute='role') | join(',') }}|{{ messages[1:] | length }}|{{ messages[-1].content }}|{{ 'hello'[1:3] }}|{{ 'hello'[::-2] }}|{{ [1,2,3,4,5][-2:] }}|{{ [1,2,3][5:] }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(user,assistant,user,system|3|  And 3+3?  |el|olh|[4, 5]|[])J"},
    {R"J({{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 2 ** 10 }} {{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 123456789.123 }} {{ -0.0 }})J",
     R"J({})J",
     R"J(7 3 -4 1 2 3.5 3.0 1024 2.5 0.30000000000000004 1e+20 1e-05 123456789.123 -0.0)J"},
    {R"J({{ 'a' ~ 1 ~ none ~ true }} {{ 'x' + 'y' }} {{ [1] + [2] }} {{ 'ab' * 3 }})J",
     R"J({})J",
     R"J(a1NoneTrue xy [1, 2] ababab)J"},
    {R"J({{ 1 < 2 < 3 }} {{ 3 > 2 > 5 }} {{ 'a' in 'cat' }} {{ 'z' not in ['a'] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ none == none }})J",
     R"J({})J",
     R"J(True False True True True True True)J"},
    {R"J({{ x is defined }} {{ x is not defined }} {{ y is none }} {{ 'a' is string }} {{ d is mapping }} {{ [] is iterable }} {{ 3 is number }} {{ 3.0 is integer }} {{ 6 is divisibleby 3 }} {{ 'ab' is lower }})J",
     R"J({"d": {}, "y": null})J",
     R"J(False True True True True True True False True True)J"},
    {R"J({{ 'yes' if x else 'no' }} {{ 'a' if true }}|{{ 'b' if false }}|)J",
     R"J({"x": 0})J",
     R"J(no a||)J"},
    {R"J({{ '  hi  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'Hello' | upper }}|{{ 'Hello' | lower }}|{{ 'hello world' | capitalize }}|{{ 'hello world' | title }}|{{ [3,1,2] | length }}|{{ 'héllo' | length }}|{{ {'a':1} | count }})J",
     R"J({})J",
     R"J(hi|hi|HELLO|hello|Hello world|Hello World|3|5|1)J"},
    {R"J({{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ [] | tojson }}|{{ {} | tojson(indent=2) }}|{{ 'é"\n<' | tojson }}|{{ 1.0 | tojson }}|{{ none | tojson }})J",
     R"J({"d": {"a": [1, 2.5, {"b": null}], "c": "x", "d": true}})J",
     R"J({"a": [1, 2.5, {"b": null}], "c": "x", "d": true}|{
  "a": [
    1,
    2.5,
    {
      "b": null
    }
  ],
  "c": "x",
  "d": true
}|[]|{}|"é\"\n<"|1.0|null)J"},
    {R"J({{ d | tojson(indent=4, sort_keys=true) }})J",
     R"J({"d": {"a": {"b": {}, "y": []}, "z": 1}})J",
     R"J({
    "a": {
        "b": {},
        "y": []
    },
    "z": 1
})J"},
    {R"J({{ '42' | int }} {{ 'x' | int }} {{ 3.9 | int }} {{ '3.5' | int }} {{ '2.5' | float }} {{ 5 | string }} {{ 'aXbX' | replace('X', 'y') }} {{ 'aXbX' | replace('X', 'y', 1) }})J",
     R"J({})J",
     R"J(42 0 3 3 2.5 5 ayby aybX)J"},
    {R"J({{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ messages | rejectattr('role', 'eq', 'user') | list | length }}|{{ [1,2,3,4] | select('even') | list }}|{{ ['a','b'] | reject('equalto','a') | list }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(['What is 2+2?', '  And 3+3?  ']|2|[2, 4]|['b'])J"},
    {R"J({{ '<a&b>' | e }} {{ '<a>' | escape }} {{ '<b>' | safe }})J",
     R"J({})J",
     R"J(&lt;a&amp;b&gt; &lt;a&gt; <b>)J"},
    {R"J({{ '  a b  '.strip() }}|{{ 'xxa'.lstrip('x') }}|{{ 'a\n\n'.rstrip('\n') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x','c')) }}|{{ 'aBc'.upper() }}{{ 'aBc'.lower() }}|{{ 'ab ab'.replace('a','z') }}|{{ 'hello world'.title() }}|{{ '{} and {}'.format(1, 'x') }}|{{ '{0}{name}'.format(5, name='n') }})J",
     R"J({})J",
     R"J(a b|a|a|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|True|True|ABCabc|zb zb|Hello World|1 and x|5n)J"},
    {R"J({{ x }}|{{ x | length }}|{% for i in x %}no{% endfor %}|{{ x is defined }}|{{ not x }}|{% if x %}t{% else %}f{% endif %})J",
     R"J({})J",
     R"J(|0||False|True|f)J"},
    {R"J({% set greeting %}Hi {{ name }}!{% endset %}[{{ greeting }}])J",
     R"J({"name": "Bob"})J",
     R"J([Hi Bob!])J"},
    {R"J({% macro tag(name, cls='x') %}<{{ name }} class={{ cls }}>{% endmacro %}{{ tag('a') }}{{ tag('b', cls='y') }}{{ tag(name='c') }})J",
     R"J({})J",
     R"J(<a class=x><b class=y><c class=x>)J"},
    {R"J({{ "it's" }} {{ 'say "hi"' }} {{ 'tab\there' }} {{ '\u00e9\x41' }} {{ 'a' 'b' }})J",
     R"J({})J",
     R"J(it's say "hi" tab	here éA ab)J"},
    {R"J({{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ {'a': [1]} }} {{ (1, 2) | list }})J",
     R"J({})J",
     R"J([1, 'a', None, True, 1.5, {'k': 'v'}] {'a': [1]} [1, 2])J"},
    {R"J({{ messages[0]['content'] | trim }}{% set loop_messages = messages[1:] %}{{ loop_messages | length }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(Be brief.3)J"},
    {R"J({% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% endif %}{{ system_message }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(Be brief.)J"},
    {R"J({%- for message in messages %}
    {%- if message.role == 'user' %}
        {{- '<u>' + message.content }}
    {%- elif message.role == 'assistant' %}
        {{- '<a>' + message.content }}
    {%- else %}
        {{- '<s>' + message.content }}
    {%- endif %}
{%- endfor %}
)J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(<s>Be brief.<u>What is 2+2?<a>4<u>  And 3+3?  )J"},
    {R"J({{ 10 | abs }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ [3,1,2] | sort }} {{ ['b','A','c'] | sort }} {{ [1,2,2,3] | unique | list }} {{ [1,2,3] | sum }} {{ [1,5,3] | max }} {{ [1,5,3] | min }} {{ 'abc' | reverse }} {{ [1,2] | reverse | list }})J",
     R"J({})J",
     R"J(10 3 2.57 2.0 [1, 2, 3] ['A', 'b', 'c'] [1, 2, 3] 6 5 1 cba [2, 1])J"},
    {R"J({{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }})J",
     R"J({})J",
     R"J(a
  b

  c|  a
  b)J"},
    {R"J({{ loop }}{% for a in [[1,2],[3,4]] %}{% for b in a %}{{ loop.index }}{{ b }}{% endfor %};{% endfor %})J",
     R"J({})J",
     R"J(1122;1324;)J"},
    {R"J({% for i in range(3) %}{{ loop.cycle('x','y') }}{{ loop.previtem }}{{ loop.nextitem }} {% endfor %})J",
     R"J({})J",
     R"J(x1 y02 x1 )J"},
    {R"J({{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }})J",
     R"J({})J",
     R"J([1, 4, 7] [5, 3, 1] [])J"},
    {R"J({% filter upper %}abc {{ 'd' }}{% endfilter %})J",
     R"J({})J",
     R"J(ABC D)J"},
    {R"J({% raw %}{{ not rendered }}{% endraw %}
x)J",
     R"J({})J",
     R"J({{ not rendered }}x)J"},
    {R"J({{ 'x' if (messages | length) > 2 else 'y' }} {{ not true or true }} {{ not (true or false) }} {{ 1 and 2 }} {{ 0 or 'z' }} {{ none or [] }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(x True False 2 z [])J"},
    {R"J({{ 'abc'[0] }}{{ 'abc'[-1] }}{{ [1,2][5] }}|{{ {'a':1}['b'] }}|{{ none.x }}|{{ 'é'[0] }})J",
     R"J({})J",
     R"J(ac|||é)J"},
    {R"J({% set a, b = [1, 2] %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c | list }})J",
     R"J({})J",
     R"J(12[1, 2])J"},
    {R"J({%- set ns = namespace(last=-1) -%}{%- for m in messages[::-1] -%}{%- set idx = (messages|length - 1) - loop.index0 -%}{%- if ns.last == -1 and m.role == 'user' -%}{%- set ns.last = idx -%}{%- endif -%}{%- endfor -%}{{ ns.last }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(3)J"},
    {R"J({{ '</think>' in s }} {{ s.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') }}|{{ s.split('</think>')[-1].lstrip('\n') }})J",
     R"J({"s": "<think>\nreason\n</think>\n\nanswer"})J",
     R"J(True reason|answer)J"},
    {R"J({{ d | tojson }})J",
     R"J({"d": {"a": 1.0, "b": 1e+100, "c": 1.2345678901234567e+19, "d": -1.5e-07, "e": 0.5, "f": 100.0}})J",
     R"J({"a": 1.0, "b": 1e+100, "c": 1.2345678901234567e+19, "d": -1.5e-07, "e": 0.5, "f": 100.0})J"},
    {R"J({% if true %}
  line
{% endif %}
{% for i in [1,2] %}
  {{ i }}
{% endfor %}
end)J",
     R"J({})J",
     R"J(  line
  1
  2
end)J"},
    {R"J({{ ns }}{% set ns = namespace(a=1) %}{{ ns.a }}{% set ns.b = 2 %}{{ ns.b }}{{ ns.c }})J",
     R"J({})J",
     R"J(12)J"},
    {R"J({% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }})J",
     R"J({})J",
     R"J(321)J"},
    {R"J({{ [1,2,3] | map('string') | join }} {{ ['a','b'] | map('upper') | list }} {{ messages | map(attribute='role') | unique | list }})J",
     R"J({"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is 2+2?", "role": "user"}, {"content": "4", "role": "assistant"}, {"content": "  And 3+3?  ", "role": "user"}]})J",
     R"J(123 ['A', 'B'] ['system', 'user', 'assistant'])J"},
    {R"J({{ 'aé' | upper }} {{ 'ÉCOLE' | lower }} {{ '  x'.isspace() }} {{ '123'.isdigit() }})J",
     R"J({})J",
     R"J(AÉ école False True)J"},
    {R"J({{ x | tojson }})J",
     R"J({"x": "  \u0001  €"})J",
     R"J("  \u0001  €")J"},
    {R"J({{ 5 is even }} {{ 5 is odd }} {{ true is boolean }} {{ 1 is boolean }} {{ 1 is true }} {{ true is true }} {{ 'a' is in 'abc' }} {{ 2 is in [1,2] }} {{ 3 is gt 2 }} {{ 1 is sameas 1 }} {{ none is sameas none }})J",
     R"J({})J",
     R"J(False True True False False True True True True True True)J"},
    {R"J({{ tools | tojson }})J",
     R"J({"tools": [{"function": {"description": "Get weather", "name": "get_weather", "parameters": {"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"}}, "type": "function"}]})J",
     R"J([{"function": {"description": "Get weather", "name": "get_weather", "parameters": {"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"}}, "type": "function"}])J"},
    {R"J({{ 'a' < 'b' }} {{ [1,2] < [1,3] }} {{ 2 >= 2.0 }})J",
     R"J({})J",
     R"J(True True True)J"},
    {R"J({{ 'ab' in {'ab': 1} }} {{ 1 in [1.0] }})J",
     R"J({})J",
     R"J(True True)J"},

    // Randomly generated nestings of for/if/set/comment/raw tags with every whitespace-control marker,
    // interleaved with spaces, tabs and newlines (the part of Jinja most likely to break byte-exactness).
    {R"J({% set ns = namespace(n=0) %} x
   	{{ i }})J",
     R"J({"x": "X"})J",
     R"J( x
   	)J"},
    {R"J({% set ns = namespace(n=0) %}   	
{% for k, v in {'a': 1, 'b': 2}.items() %}   
  {# c #} 	
x
   {%+ endfor %}x
   

)J",
     R"J({"x": "X"})J",
     R"J(   	
   
 	
x
      
 	
x
   x
   
)J"},
    {R"J({% set ns = namespace(n=0) %} b x
   {{ x -}}x
   

c
	 	
{{- x -}}  
)J",
     R"J({"x": "X"})J",
     R"J( b x
   Xx
   

cX)J"},
    {R"J({% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}x
   
a{%+ for k, v in {'a': 1, 'b': 2}.items() +%} b  	
a{#- c #}
    
   b {{ 'v' }}


c


c
{% endfor -%}
  

c
{{- loop.index }} b  {% endfor %} b a

)J",
     R"J({"x": "X"})J",
     R"J(x
   
a b  	
a    
   b v


c


c
 b  	
a    
   b v


c


c
c1 b  x
   
a b  	
a    
   b v


c


c
 b  	
a    
   b v


c


c
c2 b  x
   
a b  	
a    
   b v


c


c
 b  	
a    
   b v


c


c
c3 b   b a
)J"},
    {R"J({% set ns = namespace(n=0) %}

c
{{- ns.n }}  x
   
  {%+ set ns.n = ns.n + 1 %}{% if true +%}   
   b {{ i -}}a{{ k ~ v }}
	 {%+ else +%}{{ k ~ v }} b {%- for i in [1, 2, 3] -%} b  b  b {%+ for i in [1, 2, 3] %}{{- x }} b   
  b {{ loop.index -}}{%+ endfor +%}{%+ endfor %}{{ 'v' }}

c
	{% endif %}
)J",
     R"J({"x": "X"})J",
     R"J(
c0  x
   
     
   b a
	 )J"},
    {R"J({% set ns = namespace(n=0) %}{{- ns.n -}}
)J",
     R"J({"x": "X"})J",
     R"J(0)J"},
    {R"J({% set ns = namespace(n=0) %}{#+ c -#} b x
   	   {{- 'v' }} 	x
   )J",
     R"J({"x": "X"})J",
     R"J(b xv 	x
   )J"},
    {R"J({% set ns = namespace(n=0) %}
  {{ x }}
  	a{% for i in [1, 2, 3] %} 
{% for i in [1, 2, 3] -%}
  {# c #} 	
 	
{{- k ~ v }}  x
   {%- endfor +%}{% endfor %}x
   x
   

)J",
     R"J({"x": "X"})J",
     R"J(  X
  	a 
  x  x  x 
  x  x  x 
  x  x  xx
   x
   
)J"},
    {R"J({% set ns = namespace(n=0) %}{{- 'v' }}a b  )J",
     R"J({"x": "X"})J",
     R"J(va b  )J"},
    {R"J({% set ns = namespace(n=0) %}a
a{{- 'v' }}
   
{# c #}
   	
{%- set ns.n = ns.n + 1 -%}   
	   )J",
     R"J({"x": "X"})J",
     R"J(a
av
   
)J"},
    {R"J({% set ns = namespace(n=0) %}{%- for i in [1, 2, 3] %}
 {%- for i in [1, 2, 3] -%}
{{- loop.index -}} 	
{% endfor -%} 	
{%- endfor -%} b  {{ k ~ v }}

c
 b 

)J",
     R"J({"x": "X"})J",
     R"J(123123123b  

c
 b 
)J"},
    {R"J({% set ns = namespace(n=0) %} x
   x
   {% if true +%}
ax
   {{ i }}x
   {% set ns.n = ns.n + 1 +%} b    
	x
   
  {% else -%}	   
{{ x }}a		{{ k ~ v }}a
a{%- for k, v in {'a': 1, 'b': 2}.items() %}	x
   {% set ns.n = ns.n + 1 -%}
  a 	

c
{#+ c +#}	{{- i }}{% endfor -%} b {%- endif %} 	



c
)J",
     R"J({"x": "X"})J",
     R"J( x
   x

ax
   x
 b    
	x
   
 	



c)J"},
    {R"J({% set ns = namespace(n=0) %}	{{- 'v' -}}
   )J",
     R"J({"x": "X"})J",
     R"J(v)J"},
    {R"J({% set ns = namespace(n=0) %}

c
{#+ c #} 	
	{# c +#}


)J",
     R"J({"x": "X"})J",
     R"J(
c
 	


)J"},
    {R"J({% set ns = namespace(n=0) %}   
{% raw %}{{ r }} a{%+ endraw %}   
	{% for i in [1, 2, 3] %}  {{- 'v' }}a 	
a b 
  x
   {{- i }} b 
  {%- endfor %}x
   )J",
     R"J({"x": "X"})J",
     R"J(   
{{ r }} a   
va 	
a b 
  x1 bva 	
a b 
  x2 bva 	
a b 
  x3 bx
   )J"},
    {R"J({% set ns = namespace(n=0) %}

c
   
  {% raw %}{{ r }}    {%+ endraw %}ax
    b 
  {% set ns.n = ns.n + 1 -%}a
)J",
     R"J({"x": "X"})J",
     R"J(
c
   
{{ r }}    ax
    b 
a)J"},
    {R"J({% set ns = namespace(n=0) %} 	

  {% raw %}{{ r }}ax
   {% endraw +%} {#+ c #}   
 b 

c

)J",
     R"J({"x": "X"})J",
     R"J( 	

{{ r }}ax
    
 b 

c
)J"},
    {R"J({% set ns = namespace(n=0) %} b a
{%- raw %}{{ r }}{% endraw +%}  {{- k ~ v }})J",
     R"J({"x": "X"})J",
     R"J( b a{{ r }})J"},
    {R"J({% set ns = namespace(n=0) %}	{%- set ns.n = ns.n + 1 -%}  {{ x }}   
{{- k ~ v }}

)J",
     R"J({"x": "X"})J",
     R"J(X
)J"},
    {R"J({% set ns = namespace(n=0) %}   	
{# c +#} 	


)J",
     R"J({"x": "X"})J",
     R"J(   	
 	

)J"},
    {R"J({% set ns = namespace(n=0) %}{%- for k, v in {'a': 1, 'b': 2}.items() %} 	
 b {{ 'v' }}{% endfor -%} b 

c


c
   b {{- x }}
     
 b x
   a{{ 'v' -}}  )J",
     R"J({"x": "X"})J",
     R"J( 	
 b v 	
 b vb 

c


c
   bX
     
 b x
   av)J"},
    {R"J({% set ns = namespace(n=0) %}{%- raw %}{{ r }}  a{% endraw %}
)J",
     R"J({"x": "X"})J",
     R"J({{ r }}  a)J"},
    {R"J({% set ns = namespace(n=0) %}

c
 {{ x }}
   b 
 )J",
     R"J({"x": "X"})J",
     R"J(
c
 X
   b 
 )J"},
    {R"J({% set ns = namespace(n=0) %}

c
   
 {%+ for i in [1, 2, 3] +%} 	
{# c #} x
    	


c
{{ 'v' -}}x
   {%- endfor %}

)J",
     R"J({"x": "X"})J",
     R"J(
c
   
  	
 x
    	


c
vx 	
 x
    	


c
vx 	
 x
    	


c
vx)J"},
    {R"J({% set ns = namespace(n=0) %} {{- 'v' -}}{% for i in [1, 2, 3] %}{% for i in [1, 2, 3] +%}a
{{- 'v' }}    

c
{{- x -}}x
      
x
   {% endfor %}
{# c -#}x
      


c
{% endfor %}

c
 )J",
     R"J({"x": "X"})J",
     R"J(vav    

cXx
      
x
av    

cXx
      
x
av    

cXx
      
x
x
      


c
av    

cXx
      
x
av    

cXx
      
x
av    

cXx
      
x
x
      


c
av    

cXx
      
x
av    

cXx
      
x
av    

cXx
      
x
x
      


c

c
 )J"},
    {R"J({% set ns = namespace(n=0) %}{# c -#}
  a   {{ x }}   
a
   )J",
     R"J({"x": "X"})J",
     R"J(a   X   
a
   )J"},
    {R"J({% set ns = namespace(n=0) %}{#- c -#} 	
x
     {{ 'v' }} 	
	
  {%- for k, v in {'a': 1, 'b': 2}.items() %}{%- for i in [1, 2, 3] %}a{{ ns.n -}}   

{%- set ns.n = ns.n + 1 %} 	
{%- endfor %}{% endfor %}   

)J",
     R"J({"x": "X"})J",
     R"J(x
     va0a1a2a3a4a5   
)J"},
    {R"J({% set ns = namespace(n=0) %}{{ i }}	 a{%- set ns.n = ns.n + 1 -%} )J",
     R"J({"x": "X"})J",
     R"J(	 a)J"},
    {R"J({% set ns = namespace(n=0) %}{#+ c #} 	
   
 )J",
     R"J({"x": "X"})J",
     R"J( 	
   
 )J"},
    {R"J({% set ns = namespace(n=0) %}{{ k ~ v }}    
 )J",
     R"J({"x": "X"})J",
     R"J(    
 )J"},
};

TEST(Jinja, MatchesJinja2Reference) {
  int n = 0;
  for (const ReferenceCase& c : kReferenceCases) {
    SCOPED_TRACE(c.tmpl);
    EXPECT_EQ(render(c.tmpl, nlohmann::json::parse(c.vars)), c.expected);
    ++n;
  }
  EXPECT_GT(n, 80);
}

TEST(Jinja, WhitespaceControl) {
  // trim_blocks eats the newline after a block tag; lstrip_blocks eats the indentation before it.
  EXPECT_EQ(render("<ul>\n  {% for i in [1, 2] %}\n  <li>{{ i }}</li>\n  {% endfor %}\n</ul>"),
            "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>");
  // `-` strips all whitespace on its side, newlines included, for every tag kind.
  EXPECT_EQ(render("a \n {{- 'b' -}} \n c"), "abc");
  EXPECT_EQ(render("a\n  {%- if true -%}\n  b\n  {%- endif -%}\n  c"), "abc");
  EXPECT_EQ(render("a {#- note -#} b"), "ab");
  // `{{ }}` is neither trimmed nor lstripped.
  EXPECT_EQ(render("  {{ 'x' }}\n"), "  x");
  // `+` turns lstrip and trim off for one tag.
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
  // One trailing newline of the template is dropped (keep_trailing_newline=False); a second one stays.
  EXPECT_EQ(render("x\n"), "x");
  EXPECT_EQ(render("x\n\n"), "x\n");
  // lstrip applies only when the tag starts its line.
  EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");
}

TEST(Jinja, RawBlocks) {
  EXPECT_EQ(render("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
  // lstrip_blocks applies to the line that holds {% endraw %} as to any block tag.
  EXPECT_EQ(render("{% raw %}a\n   {% endraw %}b"), "a\nb");
  EXPECT_EQ(render("{% raw -%}  a  {%- endraw %}"), "a");
}

TEST(Jinja, LoopVariables) {
  EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}"
                   "{{ loop.last }}{{ loop.length }};{% endfor %}"),
            "103TrueFalse3;212FalseFalse3;321FalseTrue3;");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}"), "2242");
  EXPECT_EQ(render("{% for k, v in d | dictsort %}{{ k }}{{ v }}{% else %}none{% endfor %}", {{"d", {{"b", 2}, {"a", 1}}}}),
            "a1b2");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}none{% endfor %}"), "none");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x > 2 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "012");
}

TEST(Jinja, ScopingAndNamespace) {
  // `set` inside a loop does not leak out; a namespace carries state across iterations.
  EXPECT_EQ(render("{% set n = 0 %}{% for i in range(3) %}{% set n = n + i %}{% endfor %}{{ n }}"), "0");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"),
            "6");
  EXPECT_NE(error_of("{% set s = 'x' %}{% set s.attr = 1 %}").find("not a namespace()"), std::string::npos);
}

TEST(Jinja, Slicing) {
  EXPECT_EQ(render("{{ [1, 2, 3, 4][::-1] }}|{{ [1, 2, 3][1:] }}|{{ 'héllo'[1:3] }}|{{ 'abcdef'[::2] }}|{{ [1,2,3][:-1] }}"),
            "[4, 3, 2, 1]|[2, 3]|él|ace|[1, 2]");
  EXPECT_NE(error_of("{{ [1][::0] }}").find("slice step cannot be zero"), std::string::npos);
}

TEST(Jinja, UndefinedIsEmptyAndFalsy) {
  EXPECT_EQ(render("[{{ nothing }}]{% if nothing %}yes{% else %}no{% endif %}{{ nothing | length }}"), "[]no0");
  EXPECT_EQ(render("{{ d.missing is defined }}{{ d.missing }}", {{"d", nlohmann::json::object()}}), "False");
  // Looking inside an undefined value is an error, as in Jinja.
  EXPECT_EQ(error_of("\n  {{ nothing.attr }}"), "chat template render error at 2:13: 'nothing' is undefined");
}

TEST(Jinja, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("{% for x in y %}\n{{ x }}"),
            "chat template syntax error at 2:8: unexpected end of template: expected 'endfor' or 'else' to close "
            "'for' opened at 1:4");
  EXPECT_EQ(error_of("line1\n  {% if %}"), "chat template syntax error at 2:9: expected an expression, got '%}'");
  EXPECT_EQ(error_of("{{ x | nosuchfilter }}"), "chat template syntax error at 1:8: no filter named 'nosuchfilter'");
  EXPECT_EQ(error_of("{{ x is nosuchtest }}"), "chat template syntax error at 1:9: no test named 'nosuchtest'");
  EXPECT_EQ(error_of("ab\n{{ 'open }}"), "chat template syntax error at 2:4: string literal is not closed: expected '");
  EXPECT_EQ(error_of("{# open"), "chat template syntax error at 1:1: comment is not closed: expected '#}'");
  EXPECT_EQ(error_of("{{ [1, 2) }}"), "chat template syntax error at 1:9: unexpected ')': brackets do not match");
  EXPECT_NE(error_of("{% endfor %}").find("1:4: unknown tag 'endfor'"), std::string::npos);
  EXPECT_NE(error_of("{{ x ").find("tag is not closed"), std::string::npos);
  // The constructor is where syntax errors surface: parse once, before any render.
  EXPECT_THROW(ChatTemplate("{% if %}"), synaptix::Error);
}

TEST(Jinja, RuntimeErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("{{ 1 / 0 }}"), "chat template render error at 1:6: division by zero");
  EXPECT_EQ(error_of("x\n{{ 'a' + 1 }}"),
            "chat template render error at 2:8: unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_NE(error_of("{% for a, b in [[1, 2, 3]] %}{% endfor %}").find("too many values to unpack"), std::string::npos);
  EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("integer overflow"), std::string::npos);
  EXPECT_NE(error_of("{{ 0 ** -1 }}").find("negative power"), std::string::npos);
  EXPECT_NE(error_of("{{ x[1:] }}", {{"x", 5}}).find("'int' object is not subscriptable"), std::string::npos);
  // Bounds that keep a hostile template from exhausting memory or stack.
  EXPECT_NE(error_of("{{ range(1000000) | length }}").find("range() is too big"), std::string::npos);
  EXPECT_NE(error_of("{{ 'a' * 100000000 }}").find("too large"), std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursed deeper"), std::string::npos);
}

TEST(Jinja, RaiseExceptionCarriesTheTemplatesMessage) {
  const std::string tmpl =
      "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
      "{{ raise_exception('Unsupported role: ' + m.role) }}{% endif %}{% endfor %}ok";
  EXPECT_EQ(render(tmpl, {{"messages", {{{"role", "user"}, {"content", "hi"}}}}}), "ok");
  try {
    render(tmpl, {{"messages", {{{"role", "robot"}, {"content", "hi"}}}}});
    FAIL() << "raise_exception did not throw";
  } catch (const jinja::TemplateRaised& e) {
    EXPECT_STREQ(e.what(), "Unsupported role: robot");
  }
  EXPECT_THROW(render("{{ raise_exception('x') }}"), synaptix::Error);  // catchable as the project's error type
}

TEST(Jinja, FiltersAndMethods) {
  nlohmann::json msgs = {{{"role", "user"}, {"content", "a"}}, {{"role", "assistant"}, {"content", "b"}},
                         {{"role", "user"}, {"content", "c"}}};
  EXPECT_EQ(render("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}",
                   {{"messages", msgs}}),
            "a,c");
  EXPECT_EQ(render("{{ messages | rejectattr('role', 'eq', 'user') | list | length }}", {{"messages", msgs}}), "1");
  EXPECT_EQ(render("{{ '  x  ' | trim }}|{{ 'ab' | upper }}|{{ 'hello world' | capitalize }}|{{ 'x' | replace('x', 'y') }}"),
            "x|AB|Hello world|y");
  EXPECT_EQ(render("{{ '7' | int + 1 }}|{{ 'n' | int }}|{{ 3 | string ~ 'x' }}|{{ none | default('d') }}|{{ u | d('d') }}"),
            "8|0|3x|None|d");
  EXPECT_EQ(render("{{ 'a<b' | e }}|{{ 'a<b' | safe }}"), "a&lt;b|a<b");
  EXPECT_EQ(render("{{ 'a,b'.split(',') }}|{{ ' x '.strip() }}|{{ 'abc'.startswith('a') }}|{{ 'abc'.endswith('bc') }}"
                   "|{{ 'x y'.title() }}|{{ '{}-{}'.format(1, 2) }}"),
            "['a', 'b']|x|True|True|X Y|1-2");
  EXPECT_EQ(render("{{ d.get('a') }}|{{ d.get('z', 0) }}|{{ d.keys() | list }}|{{ d.values() | list }}",
                   {{"d", {{"a", 1}, {"b", 2}}}}),
            "1|0|['a', 'b']|[1, 2]");
}

TEST(Jinja, ToJsonMatchesPythonJsonDumps) {
  nlohmann::json d = nlohmann::json::parse(R"({"name": "f", "args": {"x": [1, 2.5, null, true]}, "s": "é\"\n"})");
  // nlohmann::json orders keys; Python keeps the caller's order, which is the same here (sorted input).
  EXPECT_EQ(render("{{ d | tojson }}", {{"d", d}}),
            R"({"args": {"x": [1, 2.5, null, true]}, "name": "f", "s": "é\"\n"})");
  EXPECT_EQ(render("{{ d | tojson(indent=2) }}", {{"d", {{"a", {1, 2}}, {"b", nlohmann::json::object()}}}}),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
  EXPECT_EQ(render("{{ 'é' | tojson(ensure_ascii=true) }}|{{ 1.0 | tojson }}|{{ 1e100 | tojson }}"), R"("\u00e9"|1.0|1e+100)");
}

TEST(Jinja, PercentFormattingAndFormatFilter) {
  EXPECT_EQ(render("{{ '%s and %s' % ('a', 1) }}|{{ '%d%%' % 50 }}|{{ '%5s|%-5s|' % ('ab', 'cd') }}|{{ '%.2f' % 3.14159 }}"
                   "|{{ '%(a)s-%(b)r' % {'a': 1, 'b': 'x'} }}|{{ '%s, %s!' | format('Hello', 'World') }}|{{ '%03d' % 7 }}"),
            "a and 1|50%|   ab|cd   ||3.14|1-'x'|Hello, World!|007");
  EXPECT_NE(error_of("{{ '%s %s' % ('a',) }}").find("not enough arguments"), std::string::npos);
}

TEST(Jinja, WithBlockScopes) {
  // Values are evaluated in the enclosing scope; the names vanish after endwith.
  EXPECT_EQ(render("{% set a = 5 %}{% with a = 1, b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}{{ b }}"), "155");
  EXPECT_EQ(render("{% with x = 'y' %}\n  {{ x }}\n{% endwith %}\n"), "  y\n");
}

TEST(Jinja, Macros) {
  EXPECT_EQ(render("{% macro tag(name, cls='x') %}<{{ name }} {{ cls }}>{% endmacro %}{{ tag('a') }}{{ tag('b', cls='y') }}"),
            "<a x><b y>");
  EXPECT_NE(error_of("{% macro f(a) %}{% endmacro %}{{ f(b=1) }}").find("has no parameter 'b'"), std::string::npos);
}

TEST(Jinja, StrftimeNowFormatsTheCurrentDate) {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char year[8];
  std::strftime(year, sizeof year, "%Y", &local);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}"), year);  // (fails only if run across New Year's midnight)
}

TEST(Jinja, PythonFloatRepr) {
  using jinja::python_float_repr;
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(python_float_repr(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(python_float_repr(123456789.123), "123456789.123");
}

TEST(Jinja, MalformedInputNeverCrashes) {
  // Every prefix of a real template either parses or throws synaptix::Error: no crash, no hang.
  const std::string tmpl =
      "{%- for m in messages if m.role != 'x' %}{{- '<' ~ m['role'] | upper ~ '>' }}{# c #}{% set ns = "
      "namespace(a=[1, {'k': (2, 3)}]) %}{{ m.content[::-1] | tojson(indent=2) }}{% else %}{% raw %}{{ }}{% endraw %}"
      "{% endfor -%}";
  for (size_t n = 0; n <= tmpl.size(); ++n) {
    try {
      ChatTemplate t(tmpl.substr(0, n));
      t.render(nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}}), false);
    } catch (const synaptix::Error&) {
    }
  }
}

}  // namespace
}  // namespace synaptix::model
