"""On-disk structures, declared once and shared by readers and writers.

One module per format.  Each declaration names the source it was taken from;
field names follow that source so that a reader of both can match them.
"""
