-- broken when the var `broken_column` names a column that does not exist
select country, {{ var('broken_column') }} as marker from {{ ref('stg_customers') }}
