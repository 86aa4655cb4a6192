module github.com/shardnet/shardnet/interop

go 1.26.0

require (
	github.com/shardnet/shardnet v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/shardnet/shardnet => ../
