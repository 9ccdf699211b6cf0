"""The citizen data store (kho dữ liệu điện tử của tổ chức, cá nhân) and reuse."""
