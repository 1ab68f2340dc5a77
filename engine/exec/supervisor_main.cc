// relengine-supervise: the per-step supervisor as its own small binary (see exec/process.h).
#include "exec/process.h"

int main(int argc, char** argv) { return relengine::exec::supervise_main(argc, argv); }
