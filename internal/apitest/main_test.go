package apitest

import "flag"

// update rewrites golden files.
var update = flag.Bool("update", false, "rewrite golden files")
