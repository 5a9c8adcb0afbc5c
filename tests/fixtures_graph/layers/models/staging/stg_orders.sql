select order_id, amount, placed_at from {{ source('raw', 'orders') }}
