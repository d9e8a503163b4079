select c.country, sum(o.amount) as amount
from {{ ref('countries') }} c join {{ ref('customer_orders') }} o on true
group by 1
