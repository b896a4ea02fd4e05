#include "synaptix/model/builtin_chat_templates.h"

namespace synaptix::model {

const std::string& gemma_turn_template() {
  static const std::string t =
      "{{ bos_token }}"
      "{%- if messages and messages[0]['role'] == 'system' -%}"
      "{%- set system_prefix = messages[0]['content'] + '\\n\\n' -%}"
      "{%- set turns = messages[1:] -%}"
      "{%- else -%}"
      "{%- set system_prefix = '' -%}"
      "{%- set turns = messages -%}"
      "{%- endif -%}"
      "{%- for m in turns -%}"
      "{%- if m['role'] == 'assistant' -%}{%- set role = 'model' -%}{%- else -%}{%- set role = m['role'] -%}{%- endif -%}"
      "{{ '<start_of_turn>' + role + '\\n' }}"
      "{%- if loop.first -%}{{ system_prefix }}{%- endif -%}"
      "{{ m['content'] | trim }}{{ '<end_of_turn>\\n' }}"
      "{%- endfor -%}"
      "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}";
  return t;
}

}  // namespace synaptix::model
