#!/bin/sh
echo "partial output on stdout"
echo "ERROR! Unable to reach the cloud API: credentials expired" >&2
exit 3
