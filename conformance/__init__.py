"""The conformance suite: cases traced to normative statement IDs, runnable against any
broker.  (Its modules land with the conformance suite work.)"""
