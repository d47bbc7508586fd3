// placeholder until the area's sources land; delete me
