import NIOCore

/// Counts the gRPC messages in one direction of a stream, as Envoy's `grpc_stats` filter does
/// for Istio's `istio_request_messages_total` / `istio_response_messages_total`: each message is
/// a 5-byte prefix (a flag byte and a big-endian length) and that many bytes, and may be split
/// across body chunks anywhere. A message counts when its prefix starts.
struct GRPCMessageCounter {
    /// Messages begun so far.
    private(set) var messages = 0
    /// Bytes of the current prefix still to read (5 at a message boundary).
    private var prefixLeft = 5
    private var length: UInt32 = 0
    /// Payload bytes of the current message still to skip.
    private var payloadLeft = 0

    mutating func consume(_ buffer: ByteBuffer) {
        let view = buffer.readableBytesView
        var index = view.startIndex
        while index < view.endIndex {
            if payloadLeft > 0 {
                let skipped = min(payloadLeft, view.endIndex - index)
                payloadLeft -= skipped
                index += skipped
                continue
            }
            if prefixLeft == 5 {
                // The flag byte: a new message.
                messages += 1
                length = 0
            } else {
                length = length << 8 | UInt32(view[index])
            }
            prefixLeft -= 1
            index += 1
            if prefixLeft == 0 {
                prefixLeft = 5
                payloadLeft = Int(length)
            }
        }
    }
}
