"""Method parts: pieces of strategies, shared (prototype discovery) or owned by one paper (neural gas
for NAPA-VQ; virtual outliers, prefix tuning and the prompted encoders for OVOR)."""
