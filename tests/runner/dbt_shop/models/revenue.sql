select sum(paid) as total from {{ ref('order_payments') }}
