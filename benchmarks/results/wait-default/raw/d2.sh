#!/bin/bash
/tmp/w8/sampler.sh /tmp/w8/d2-sampler.txt & s=$!
cd /work/wt-wait8/benchmarks && /tmp/w8/benchdrv -prebuilt -extra-peer rt=/tmp/w8/rt -peers shardnet,rt -subject rt -suites http,http-rate,nethttp,nethttp-rate -cells '^c(50|256) x1( @|$)' -duration 3s -rounds 4 -readme "" -out /tmp/w8/d2
kill $s
