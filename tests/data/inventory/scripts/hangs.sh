#!/bin/sh
# Prints nothing, then a child sleeps: the timeout must kill the whole process group.
sleep 30 &
wait
