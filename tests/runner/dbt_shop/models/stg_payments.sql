select id as payment_id, order_id, method, paid from {{ ref('payments') }}
