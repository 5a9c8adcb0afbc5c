select id as order_id, customer_id, status, amount, discount from {{ source('raw', 'orders') }}
