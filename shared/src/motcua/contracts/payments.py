"""Events published by payments. (Contracts are added as the payments service grows.)"""
