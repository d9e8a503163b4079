{{ config(materialized='table') }}
select 1 as id, current_timestamp::timestamp as loaded_at
