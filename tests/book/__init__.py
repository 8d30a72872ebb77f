"""The book's network.py and network2.py (Michael Nielsen, MIT licence), Python 3, for comparison only.

Kept as close to the originals as Python 3 allows (xrange -> range, print(),
zip -> list), so tests can check that fastnn's drop-ins give the book's numbers.
"""
