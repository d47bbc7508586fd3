// placeholder until the area's sources land; delete me
int main() { return 0; }
