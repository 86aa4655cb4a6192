module github.com/shardnet/shardnet/benchmarks

go 1.26.0

replace github.com/shardnet/shardnet => ../
