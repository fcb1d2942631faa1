#!/bin/sh
printf '{"web": {"hosts": ["web1"]},\n "db": oops}\n'
