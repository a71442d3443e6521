/*
 * main: jobd's entry point.  Everything else lives in the daemon library, so
 * tests link exactly the objects the daemon runs.
 */
#include "config.h"

#include "jobd.h"

int
main(int argc, char **argv)
{
	return jobd_main(argc, argv);
}
