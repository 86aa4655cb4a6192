#!/bin/bash
/tmp/w8/sampler.sh /tmp/w8/unp/suite2-sampler.txt & s=$!
/tmp/w8/unp/suite.sh 4
kill $s
