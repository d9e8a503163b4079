{% macro say_hello(name='world') %}
  {% do log('hello ' ~ name, info=true) %}
{% endmacro %}
