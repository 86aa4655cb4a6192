#!/bin/bash
/tmp/w8/sampler.sh /tmp/w8/d3-sampler.txt & s=$!
cd /work/wt-wait8/benchmarks && /tmp/w8/benchdrv -prebuilt -extra-peer rt=/tmp/w8/rt -peers shardnet,rt -subject rt -suites echo,echo-rate,http -cells '^c100 64B x1( @|$)|^c50 x1$' -duration 3s -rounds 4 -readme "" -out /tmp/w8/d3
kill $s
