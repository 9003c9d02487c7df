"""Where computation meets persistence: dataset imports and cleaning now, runs later."""
