"""The task table's state machine (one interface, a backend per database), its reads and views."""
