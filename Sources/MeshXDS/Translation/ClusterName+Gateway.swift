extension ClusterName {
    /// Istio's SNI-DNAT cluster name, `outbound_.PORT_.SUBSET_.HOST`: the SNI a client sends to an
    /// AUTO_PASSTHROUGH gateway port and the name of the gateway cluster it is forwarded to.
    /// - Parameters:
    ///   - port: the service port.
    ///   - subset: the DestinationRule subset, or nil.
    ///   - host: the service host name.
    public static func sniDNAT(port: UInt32, subset: String? = nil, host: String) -> String {
        "outbound_.\(port)_.\(subset ?? "")_.\(host)"
    }

    /// Whether `name` has the form of ``sniDNAT(port:subset:host:)``.
    static func isSNIDNAT(_ name: String) -> Bool { name.hasPrefix("outbound_.") }
}
