"""Peer implementations that fastnn is measured against, written for this project."""
