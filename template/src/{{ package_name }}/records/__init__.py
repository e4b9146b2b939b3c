"""Records: the durable files the service writes and the monitors read.

The decision log (one JSON line per answered row) and the prediction window have one format,
defined here, so serving (the writer) and monitoring, audit and the load test (the readers)
never import each other.
"""
