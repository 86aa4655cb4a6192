module github.com/shardnet/shardnet/benchmarks

go 1.26.0

replace github.com/shardnet/shardnet => ../

require (
	github.com/panjf2000/gnet/v2 v2.9.7
	github.com/shardnet/shardnet v0.0.0-00010101000000-000000000000
)

require github.com/valyala/bytebufferpool v1.0.0 // indirect
