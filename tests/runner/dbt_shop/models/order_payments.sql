select o.order_id, o.amount, p.paid, p.method
from {{ ref('stg_orders') }} o join {{ ref('stg_payments') }} p using (order_id)
