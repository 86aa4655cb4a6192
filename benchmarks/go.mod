module github.com/shardnet/shardnet/benchmarks

go 1.26.0

replace github.com/shardnet/shardnet => ../

require github.com/panjf2000/gnet/v2 v2.9.7 // indirect
