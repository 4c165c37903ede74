"""An example owlbench plugin: a strategy that lives outside owlbench and registers by entry point."""
