"""Printable slips: the receipt and appointment slip (Mẫu 01) and the refusal slip."""
