"""Events published by metrics for the national level. (Added as the service grows.)"""
