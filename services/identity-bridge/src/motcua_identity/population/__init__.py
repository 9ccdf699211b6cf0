"""National Population Database lookups (tra cứu Cơ sở dữ liệu quốc gia về dân cư)."""
