"""Events published by identity-bridge. (Contracts are added as the service grows.)"""
