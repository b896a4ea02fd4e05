// ChatTemplate against references nobody here wrote: the chat fixtures rendered by transformers, the chat
// templates shipped in the fixture models' tokenizer_config.json, and the published templates of Qwen2.5,
// Qwen3, Llama-3.2 and Mistral-Nemo (template text as data) with the output Jinja2 3.1.6 produces for them
// under transformers' settings.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/model/chat_template.h"

namespace synaptix::model {
namespace {

namespace fs = std::filesystem;
const fs::path kShared = SYNAPTIX_SHARED_DIR;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return nlohmann::json::parse(in);
}

TEST(ChatTemplateFixtures, EveryCaseRendersByteExactly) {
  std::ifstream in(kShared / "fixtures/chat/cases.jsonl");
  ASSERT_TRUE(in) << "missing fixtures/chat/cases.jsonl";
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto c = nlohmann::json::parse(line);
    SCOPED_TRACE("case " + std::to_string(n) + ": " + c["template"].get<std::string>());
    ChatTemplate tmpl(c["template"].get<std::string>());
    nlohmann::json extra = {{"bos_token", c["bos_token"]}};
    EXPECT_EQ(tmpl.render(c["messages"], c["add_generation_prompt"].get<bool>(), extra), c["rendered"].get<std::string>());
    ++n;
  }
  EXPECT_GE(n, 8);
}

// tokenizer_config.json's chat_template is a string, or a list of {name, template} (use "default").
std::string chat_template_of(const nlohmann::json& config) {
  if (!config.contains("chat_template")) return "";
  const auto& t = config["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {
    for (const auto& entry : t) {
      if (entry.value("name", "") == "default") return entry.value("template", "");
    }
  }
  return "";
}

TEST(ChatTemplateFixtures, ModelTokenizerConfigTemplatesRender) {
  const nlohmann::json conversation = nlohmann::json::parse(R"([
    {"role": "system", "content": "You are a test fixture."},
    {"role": "user", "content": "First question?"},
    {"role": "assistant", "content": "First answer."},
    {"role": "user", "content": "Second question?"}])");
  int rendered = 0;
  for (const fs::path& root : {kShared / "fixtures/models", kShared / "fixtures/tokenizers"}) {
    if (!fs::exists(root)) continue;
    for (const auto& dir : fs::directory_iterator(root)) {
      fs::path cfg = dir.path() / "tokenizer_config.json";
      if (!fs::exists(cfg)) continue;
      nlohmann::json config = read_json(cfg);
      std::string source = chat_template_of(config);
      if (source.empty()) continue;
      SCOPED_TRACE(cfg.string());
      nlohmann::json extra = nlohmann::json::object();
      for (const char* key : {"bos_token", "eos_token"}) {
        if (config.contains(key) && config[key].is_string()) extra[key] = config[key];
      }
      ChatTemplate tmpl(source);
      std::string out = tmpl.render(conversation, true, extra);
      for (const auto& m : conversation) {
        if (m["role"] != "system") {
          EXPECT_NE(out.find(m["content"].get<std::string>()), std::string::npos) << out;
        }
      }
      ++rendered;
    }
  }
  EXPECT_GE(rendered, 9);  // every fixture model ships a chat template
}

// ---- published templates (text as data) ----

const char* const kQwen25 = R"TPL({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)TPL";

const char* const kQwen3 = R"TPL({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %})TPL";

const char* const kLlama32 = R"TPL({{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
)TPL";

const char* const kMistralNemo = R"TPL({%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS][" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST]" + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST]" + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}
        {{- "[TOOL_CALLS][" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- message["content"] + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS]{"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
)TPL";

const char* const kSimpleConversation = R"([
  {"role": "system", "content": "You are terse."},
  {"role": "user", "content": "Hello!"},
  {"role": "assistant", "content": "Hi."},
  {"role": "user", "content": "  What's 2+2?  "}])";

const char* const kToolConversation = R"([
  {"role": "user", "content": "Weather in Paris?"},
  {"role": "assistant", "content": "", "tool_calls": [{"id": "abcdefghi", "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
  {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "abcdefghi"},
  {"role": "assistant", "content": "It is 21°C in Paris."},
  {"role": "user", "content": "Thanks"}])";

const char* const kTools = R"([{"type": "function", "function": {"name": "get_weather",
  "description": "Get the weather in a city", "parameters": {"type": "object",
  "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}}}])";

const char* const kThinkingConversation = R"([
  {"role": "user", "content": "2+2?"},
  {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
  {"role": "user", "content": "3+3?"}])";

// What Jinja2 renders for the conversations above (bos "<s>", eos "</s>", date_string "26 Jul 2024").
const char* const kQwen25_simple = R"OUT(<|im_start|>system
You are terse.<|im_end|>
<|im_start|>user
Hello!<|im_end|>
<|im_start|>assistant
Hi.<|im_end|>
<|im_start|>user
  What's 2+2?  <|im_end|>
<|im_start|>assistant
)OUT";
const char* const kQwen25_tools = R"OUT(<|im_start|>system
You are Qwen, created by Alibaba Cloud. You are a helpful assistant.

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{"function": {"description": "Get the weather in a city", "name": "get_weather", "parameters": {"properties": {"city": {"description": "City name", "type": "string"}}, "required": ["city"], "type": "object"}}, "type": "function"}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
<|im_start|>user
Weather in Paris?<|im_end|>
<|im_start|>assistant
<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris"}}
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
{"temp": 21}
</tool_response><|im_end|>
<|im_start|>assistant
It is 21°C in Paris.<|im_end|>
<|im_start|>user
Thanks<|im_end|>
<|im_start|>assistant
)OUT";
const char* const kQwen3_simple = R"OUT(<|im_start|>system
You are terse.<|im_end|>
<|im_start|>user
Hello!<|im_end|>
<|im_start|>assistant
Hi.<|im_end|>
<|im_start|>user
  What's 2+2?  <|im_end|>
<|im_start|>assistant
)OUT";
const char* const kQwen3_tools = R"OUT(<|im_start|>system
# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{"function": {"description": "Get the weather in a city", "name": "get_weather", "parameters": {"properties": {"city": {"description": "City name", "type": "string"}}, "required": ["city"], "type": "object"}}, "type": "function"}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
<|im_start|>user
Weather in Paris?<|im_end|>
<|im_start|>assistant
<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris"}}
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
{"temp": 21}
</tool_response><|im_end|>
<|im_start|>assistant
It is 21°C in Paris.<|im_end|>
<|im_start|>user
Thanks<|im_end|>
<|im_start|>assistant
)OUT";
const char* const kLlama32_simple = R"OUT(<s><|start_header_id|>system<|end_header_id|>

Cutting Knowledge Date: December 2023
Today Date: 26 Jul 2024

You are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>

Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>

Hi.<|eot_id|><|start_header_id|>user<|end_header_id|>

What's 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>

)OUT";
const char* const kLlama32_tools = R"OUT(<s><|start_header_id|>system<|end_header_id|>

Environment: ipython
Cutting Knowledge Date: December 2023
Today Date: 26 Jul 2024

<|eot_id|><|start_header_id|>user<|end_header_id|>

Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.

Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.

{
    "function": {
        "description": "Get the weather in a city",
        "name": "get_weather",
        "parameters": {
            "properties": {
                "city": {
                    "description": "City name",
                    "type": "string"
                }
            },
            "required": [
                "city"
            ],
            "type": "object"
        }
    },
    "type": "function"
}

Weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>

{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>

"{\"temp\": 21}"<|eot_id|><|start_header_id|>assistant<|end_header_id|>

It is 21°C in Paris.<|eot_id|><|start_header_id|>user<|end_header_id|>

Thanks<|eot_id|><|start_header_id|>assistant<|end_header_id|>

)OUT";
const char* const kMistralNemo_simple = R"OUT(<s>[INST]Hello![/INST]Hi.</s>[INST]You are terse.

  What's 2+2?  [/INST])OUT";
const char* const kMistralNemo_tools = R"OUT(<s>[INST]Weather in Paris?[/INST][TOOL_CALLS][{"arguments": {"city": "Paris"}, "name": "get_weather", "id": "abcdefghi"}]</s>[TOOL_RESULTS]{"content": {"temp": 21}, "call_id": "abcdefghi"}[/TOOL_RESULTS]It is 21°C in Paris.</s>[AVAILABLE_TOOLS][{"type": "function", "function": {"description": "Get the weather in a city", "name": "get_weather", "parameters": {"properties": {"city": {"description": "City name", "type": "string"}}, "required": ["city"], "type": "object"}}}][/AVAILABLE_TOOLS][INST]Thanks[/INST])OUT";
const char* const kQwen3_think = R"OUT(<|im_start|>user
2+2?<|im_end|>
<|im_start|>assistant
4<|im_end|>
<|im_start|>user
3+3?<|im_end|>
<|im_start|>assistant
)OUT";
const char* const kQwen3_nothink = R"OUT(<|im_start|>user
Hello!<|im_end|>
<|im_start|>assistant
Hi.<|im_end|>
<|im_start|>user
  What's 2+2?  <|im_end|>
<|im_start|>assistant
<think>

</think>

)OUT";

nlohmann::json base_extra() {
  return {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"date_string", "26 Jul 2024"}};
}

std::string render_tools(const char* tmpl) {
  nlohmann::json extra = base_extra();
  extra["tools"] = nlohmann::json::parse(kTools);
  return ChatTemplate(tmpl).render(nlohmann::json::parse(kToolConversation), true, extra);
}

TEST(PublishedChatTemplates, Qwen25) {
  ChatTemplate t(kQwen25);
  EXPECT_EQ(t.render(nlohmann::json::parse(kSimpleConversation), true, base_extra()), kQwen25_simple);
  EXPECT_EQ(render_tools(kQwen25), kQwen25_tools);
}

TEST(PublishedChatTemplates, Qwen25KeepsTheRequestsKeyOrderWhenOrdered) {
  // Tools and arguments in the order a client sent them (not sorted); Jinja2's output keeps that order.
  const char* const messages = R"([{"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "abcdefghi", "type": "function",
      "function": {"name": "get_weather", "arguments": {"unit": "C", "city": "Paris"}}}]}])";
  const char* const expected = R"OUT(<|im_start|>system
You are Qwen, created by Alibaba Cloud. You are a helpful assistant.

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{"type": "function", "function": {"name": "get_weather", "description": "Get the weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}}}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
<|im_start|>user
Weather in Paris?<|im_end|>
<|im_start|>assistant
<tool_call>
{"name": "get_weather", "arguments": {"unit": "C", "city": "Paris"}}
</tool_call><|im_end|>
)OUT";
  nlohmann::ordered_json extra = {{"tools", nlohmann::ordered_json::parse(kTools)}};
  EXPECT_EQ(ChatTemplate(kQwen25).render_ordered(nlohmann::ordered_json::parse(messages), false, extra), expected);
}

TEST(PublishedChatTemplates, Qwen3) {
  ChatTemplate t(kQwen3);
  EXPECT_EQ(t.render(nlohmann::json::parse(kSimpleConversation), true, base_extra()), kQwen3_simple);
  EXPECT_EQ(render_tools(kQwen3), kQwen3_tools);
  // Reasoning of earlier turns is dropped; enable_thinking=false pre-fills an empty think block.
  EXPECT_EQ(t.render(nlohmann::json::parse(kThinkingConversation), true, base_extra()), kQwen3_think);
  nlohmann::json no_think = base_extra();
  no_think["enable_thinking"] = false;
  nlohmann::json simple = nlohmann::json::parse(kSimpleConversation);
  simple.erase(0);
  EXPECT_EQ(t.render(simple, true, no_think), kQwen3_nothink);
}

TEST(PublishedChatTemplates, Llama32) {
  ChatTemplate t(kLlama32);
  EXPECT_EQ(t.render(nlohmann::json::parse(kSimpleConversation), true, base_extra()), kLlama32_simple);
  EXPECT_EQ(render_tools(kLlama32), kLlama32_tools);
  // Without date_string the template asks strftime_now("%d %b %Y") for today's date.
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char today[32];
  std::strftime(today, sizeof today, "%d %b %Y", &local);
  std::string out = t.render(nlohmann::json::parse(kSimpleConversation), false, {{"bos_token", "<s>"}});
  EXPECT_NE(out.find(std::string("Today Date: ") + today + "\n"), std::string::npos) << out;
}

TEST(PublishedChatTemplates, MistralNemo) {
  ChatTemplate t(kMistralNemo);
  EXPECT_EQ(t.render(nlohmann::json::parse(kSimpleConversation), true, base_extra()), kMistralNemo_simple);
  EXPECT_EQ(render_tools(kMistralNemo), kMistralNemo_tools);
  // The template rejects conversations that do not alternate, with its own message.
  nlohmann::json two_users = nlohmann::json::parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])");
  try {
    t.render(two_users, true, base_extra());
    FAIL() << "expected raise_exception";
  } catch (const synaptix::Error& e) {
    EXPECT_STREQ(e.what(),
                 "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...");
  }
}


// DeepSeek-R1-Distill relies on trim_blocks/lstrip_blocks alone (few `-` markers), and on namespace state
// across tool-call turns; Hermes-3 formats tool signatures with a recursive macro.
const char* const kDeepSeekR1Distill = R"TPL({% if not add_generation_prompt is defined %}
{% set add_generation_prompt = false %}
{% endif %}
{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}
{%- for message in messages %}
{%- if message['role'] == 'system' %}
{% set ns.system_prompt = message['content'] %}
{%- endif %}
{%- endfor %}
{{bos_token}}
{{ns.system_prompt}}
{%- for message in messages %}
{%- if message['role'] == 'user' %}
{%- set ns.is_tool = false -%}
{{'<｜User｜>' + message['content']}}
{%- endif %}
{%- if message['role'] == 'assistant' and message['content'] is none %}
{%- set ns.is_tool = false -%}
{%- for tool in message['tool_calls']%}
{%- if not ns.is_first %}
{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}
{%- set ns.is_first = true -%}
{%- else %}
{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}
{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}
{%- endif %}
{%- endfor %}
{%- endif %}
{%- if message['role'] == 'assistant' and message['content'] is not none %}
{%- if ns.is_tool %}
{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}
{%- set ns.is_tool = false -%}
{%- else %}
{% set content = message['content'] %}
{% if '</think>' in content %}
{% set content = content.split('</think>')[-1] %}
{% endif %}
{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}
{%- endif %}
{%- endif %}
{%- if message['role'] == 'tool' %}
{%- set ns.is_tool = true -%}
{%- if ns.is_output_first %}
{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}
{%- set ns.is_output_first = false %}
{%- else %}
{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}
{%- endif %}
{%- endif %}
{%- endfor -%}
{% if ns.is_tool %}
{{'<｜tool▁outputs▁end｜>'}}
{% endif %}
{% if add_generation_prompt and not ns.is_tool %}
{{'<｜Assistant｜>'}}
{% endif %})TPL";

const char* const kHermes3ToolUse = R"TPL({%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool"
} %}

{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "list[" +  json_to_python_type(json_spec|items) + "]"}}
{%- elif json_spec.type == "object" %}
    {%- if json_spec.additionalProperties is defined %}
        {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']'}}
    {%- else %}
        {{- "dict" }}
    {%- endif %}
{%- elif json_spec.type is iterable %}
    {{- "Union[" }}
    {%- for t in json_spec.type %}
      {{- json_to_python_type({"type": t}) }}
      {%- if not loop.last %}
        {{- "," }} 
    {%- endif %}
    {%- endfor %}
    {{- "]" }}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}


{{- bos_token }}
{{- '<|im_start|>system
' }}
{{- "You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> " }}
{%- for tool in tools %}
    {%- if tool.function is defined %}
        {%- set tool = tool.function %}
    {%- endif %}
    {{- '{"type": "function", "function": ' }}
    {{- '{"name": "' + tool.name + '", ' }}
    {{- '"description": "' + tool.name + '(' }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {{- param_name + ": " + json_to_python_type(param_fields) }}
        {%- if not loop.last %}
            {{- ", " }}
        {%- endif %}
    {%- endfor %}
    {{- ")" }}
    {%- if tool.return is defined %}
        {{- " -> " + json_to_python_type(tool.return) }}
    {%- endif %}
    {{- " - " + tool.description + "

" }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {%- if loop.first %}
            {{- "    Args:
" }}
        {%- endif %}
        {{- "        " + param_name + "(" + json_to_python_type(param_fields) + "): " + param_fields.description|trim }}
    {%- endfor %}
    {%- if tool.return is defined and tool.return.description is defined %}
        {{- "
    Returns:
        " + tool.return.description }}
    {%- endif %}
    {{- '"' }}
    {{- ', "parameters": ' }}
    {%- if tool.parameters.properties | length == 0 %}
        {{- "{}" }}
    {%- else %}
        {{- tool.parameters|tojson }}
    {%- endif %}
    {{- "}" }}
    {%- if not loop.last %}
        {{- "
" }}
    {%- endif %}
{%- endfor %}
{{- " </tools>" }}
{{- 'Use the following pydantic model json schema for each tool call you will make: {"properties": {"name": {"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", "type": "object"}}, "required": ["name", "arguments"], "title": "FunctionCall", "type": "object"}}
' }}
{{- "For each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:
" }}
{{- "<tool_call>
" }}
{{- '{"name": <function-name>, "arguments": <args-dict>}
' }}
{{- '</tool_call><|im_end|>
' }}
{%- for message in messages %}
    {%- if message.role == "user" or message.role == "system" or (message.role == "assistant" and message.tool_calls is not defined) %}
        {{- '<|im_start|>' + message.role + '
' + message.content + '<|im_end|>' + '
' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
    {%- for tool_call in message.tool_calls %}
       {{- '
<tool_call>
' }}           {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '{' }}
            {{- '"name": "' }}
            {{- tool_call.name }}
            {{- '"' }}
            {{- ', '}}
            {%- if tool_call.arguments is defined %}
                {{- '"arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments|tojson }}
                {%- endif %}
            {%- endif %}
             {{- '}' }}
            {{- '
</tool_call>' }}
    {%- endfor %}
        {{- '<|im_end|>
' }}
    {%- elif message.role == "tool" %}
        {%- if loop.previtem and loop.previtem.role != "tool" %}
            {{- '<|im_start|>tool
' }}
        {%- endif %}
        {{- '<tool_response>
' }}
        {{- message.content }}
        {%- if not loop.last %}
            {{- '
</tool_response>
' }}
        {%- else %}
            {{- '
</tool_response>' }}
        {%- endif %}
        {%- if not loop.last and loop.nextitem.role != "tool" %}
            {{- '<|im_end|>' }}
        {%- elif loop.last %}
            {{- '<|im_end|>' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant
' }}
{%- endif %}
)TPL";

const char* const kDeepSeekR1Distill_tools = R"OUT(<s>
S<｜User｜>q<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f
```json
{"a": 1}
```<｜tool▁call▁end｜>
<｜tool▁call▁begin｜>function<｜tool▁sep｜>g
```json
{}
```<｜tool▁call▁end｜>
<｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>r1<｜tool▁output▁end｜>
<｜tool▁output▁begin｜>r2<｜tool▁output▁end｜><｜tool▁outputs▁end｜><think>x</think>done<｜end▁of▁sentence｜><｜User｜>more<｜Assistant｜>
)OUT";

const char* const kHermes3ToolUse_tools = R"OUT(<s><|im_start|>system
You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> {"type": "function", "function": {"name": "get_weather", "description": "get_weather(city: str, days: int, extra: dict[str, float]) - Get the weather in a city

    Args:
        city(str): City name        days(int): Days ahead        extra(dict[str, float]): Extra", "parameters": {"properties": {"city": {"description": "City name", "type": "string"}, "days": {"description": "Days ahead ", "type": "integer"}, "extra": {"additionalProperties": {"type": "number"}, "description": "Extra", "type": "object"}}, "required": ["city"], "type": "object"}} </tools>Use the following pydantic model json schema for each tool call you will make: {"properties": {"name": {"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", "type": "object"}}, "required": ["name", "arguments"], "title": "FunctionCall", "type": "object"}}
For each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:
<tool_call>
{"name": <function-name>, "arguments": <args-dict>}
</tool_call><|im_end|>
<|im_start|>user
Weather in Paris?<|im_end|>
<|im_start|>assistant
<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris"}}
</tool_call><|im_end|>
<|im_start|>tool
<tool_response>
{"temp": 21}
</tool_response>
<tool_response>
{"temp": 22}
</tool_response>
<|im_end|><|im_start|>assistant
It is 21°C.<|im_end|>
<|im_start|>assistant
)OUT";

TEST(PublishedChatTemplates, DeepSeekR1DistillWhitespaceAndToolTurns) {
  const char* const messages = R"([{"role": "system", "content": "S"}, {"role": "user", "content": "q"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}},
      {"type": "function", "function": {"name": "g", "arguments": "{}"}}]},
    {"role": "tool", "content": "r1"}, {"role": "tool", "content": "r2"},
    {"role": "assistant", "content": "<think>x</think>done"}, {"role": "user", "content": "more"}])";
  EXPECT_EQ(ChatTemplate(kDeepSeekR1Distill).render(nlohmann::json::parse(messages), true, {{"bos_token", "<s>"}}),
            kDeepSeekR1Distill_tools);
}

TEST(PublishedChatTemplates, Hermes3RecursiveMacro) {
  const char* const messages = R"([{"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "abcdefghi", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "content": "{\"temp\": 21}"}, {"role": "tool", "content": "{\"temp\": 22}"},
    {"role": "assistant", "content": "It is 21°C."}])";
  const char* const tools = R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Get the weather in a city", "parameters": {"type": "object", "required": ["city"],
    "properties": {"city": {"type": "string", "description": "City name"},
                   "days": {"type": "integer", "description": "Days ahead "},
                   "extra": {"type": "object", "additionalProperties": {"type": "number"}, "description": "Extra"}}}}}])";
  nlohmann::json extra = {{"bos_token", "<s>"}, {"tools", nlohmann::json::parse(tools)}};
  EXPECT_EQ(ChatTemplate(kHermes3ToolUse).render(nlohmann::json::parse(messages), true, extra), kHermes3ToolUse_tools);
  // A union type makes this published macro recurse without end (in Jinja2 too): we stop it with an error.
  extra["tools"][0]["function"]["parameters"]["properties"]["units"] = {{"type", {"string", "null"}}, {"description", "u"}};
  EXPECT_THROW(ChatTemplate(kHermes3ToolUse).render(nlohmann::json::parse(messages), true, extra), synaptix::Error);
}

// The default limits (steps, loop iterations, output size) leave the published templates room for long
// conversations: 2000 turns with tools and tool calls, far beyond what fits a model's context.
TEST(PublishedChatTemplates, LongConversationsRenderWithinTheDefaultLimits) {
  nlohmann::json messages = nlohmann::json::array();
  messages.push_back({{"role", "system"}, {"content", "You are a helpful assistant."}});
  for (int i = 0; i < 1000; ++i) {
    messages.push_back({{"role", "user"}, {"content", "Question number " + std::to_string(i) + " about the weather?"}});
    messages.push_back({{"role", "assistant"}, {"content", "Answer number " + std::to_string(i) + ": it is sunny."}});
  }
  messages.push_back({{"role", "user"}, {"content", "And tomorrow?"}});
  nlohmann::json extra = base_extra();
  extra["tools"] = nlohmann::json::parse(kTools);
  for (const char* tmpl : {kQwen25, kQwen3, kLlama32, kMistralNemo, kDeepSeekR1Distill, kHermes3ToolUse}) {
    SCOPED_TRACE(std::string(tmpl).substr(0, 60));
    std::string out;
    EXPECT_NO_THROW(out = ChatTemplate(tmpl).render(messages, true, extra));
    EXPECT_NE(out.find("Answer number 999: it is sunny."), std::string::npos);
  }
}

}  // namespace
}  // namespace synaptix::model
