"""The call log: writes, reads, live queue figures, and what each viewer may see."""
