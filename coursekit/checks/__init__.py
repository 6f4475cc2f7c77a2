"""One module per chapter (ch01.py, ch02.py, ...), each defining `chapter`, its exercises and checks."""
