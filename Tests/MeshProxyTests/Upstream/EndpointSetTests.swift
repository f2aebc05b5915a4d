import MeshProxy
import MeshXDS
import SwiftProtobuf
import Testing

@Suite struct EndpointSetTests {
    @Test func convertsLocalitiesEndpointsAndPolicy() throws {
        let set = try EndpointSet(Fixtures.assignment(#"""
            {"cluster_name":"outbound|9080||reviews","endpoints":[
              {"locality":{"region":"us","zone":"us-a","sub_zone":"rack1"},"priority":1,"load_balancing_weight":3,"lb_endpoints":[
                {"endpoint":{"address":{"socket_address":{"address":"10.1.0.1","port_value":9080}},"hostname":"reviews-v1"},"health_status":"DEGRADED","load_balancing_weight":5,
                 "metadata":{"filter_metadata":{"envoy.transport_socket_match":{"tlsMode":"istio"},"istio":{"workload":"reviews-v1;default"}}}},
                {"endpoint":{"address":{"socket_address":{"address":"fd00::1","port_value":9080}}}}]}],
             "policy":{"overprovisioning_factor":200,"weighted_priority_health":true,"drop_overloads":[{"category":"throttle","drop_percentage":{"numerator":5,"denominator":"TEN_THOUSAND"}}]}}
            """#))
        #expect(set.clusterName == "outbound|9080||reviews")
        #expect(set.overprovisioningFactor == 200)
        #expect(set.weightedPriorityHealth)
        #expect(set.dropOverloads == [.init(category: "throttle", numerator: 5, denominator: 10_000)])
        let locality = set.localities[0]
        #expect(locality.locality == Locality(region: "us", zone: "us-a", subZone: "rack1"))
        #expect(locality.locality.description == "us/us-a/rack1")
        #expect(locality.priority == 1)
        #expect(locality.loadBalancingWeight == 3)
        let first = locality.endpoints[0]
        #expect(first.address == .socket(host: "10.1.0.1", port: 9080))
        #expect(first.hostname == "reviews-v1")
        #expect(first.healthStatus == .degraded)
        #expect(first.loadBalancingWeight == 5)
        #expect(first.metadata["envoy.transport_socket_match"]?.fields["tlsMode"]?.stringValue == "istio")
        #expect(first.metadata["istio"]?.fields["workload"]?.stringValue == "reviews-v1;default")
        let second = locality.endpoints[1]
        #expect(second.healthStatus == .unknown)
        #expect(second.healthStatus.coarseHealth == .healthy)
        #expect(second.loadBalancingWeight == 1)
        #expect(second.address.description == "[fd00::1]:9080")
    }

    @Test func defaultsWithoutPolicy() throws {
        let set = try EndpointSet(Fixtures.assignment(#"{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"10.0.0.1","port_value":80}}}}]}]}"#))
        #expect(set.overprovisioningFactor == 140)
        #expect(set.localities[0].loadBalancingWeight == nil)
        #expect(set.localities[0].priority == 0)
        #expect(set.dropOverloads.isEmpty)
    }

    @Test(arguments: [
        (#"{"cluster_name":"c","policy":{"overprovisioning_factor":0}}"#, "policy.overprovisioning_factor"),
        (#"{"cluster_name":"c","endpoints":[{"priority":129}]}"#, "endpoints[0].priority"),
        (#"{"cluster_name":"c","endpoints":[{"load_balancing_weight":0}]}"#, "endpoints[0].load_balancing_weight"),
        (#"{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"10.0.0.1","port_value":80}}},"load_balancing_weight":0}]}]}"#, "endpoints[0].lb_endpoints[0].load_balancing_weight"),
        (#"{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{}}]}]}"#, "endpoints[0].lb_endpoints[0].endpoint.address"),
        (#"{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint_name":"e1"}]}]}"#, "endpoints[0].lb_endpoints[0].endpoint_name"),
        (#"{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"","port_value":80}}}}]}]}"#, "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address"),
        (#"{"cluster_name":"c","endpoints":[{"lb_endpoints":[{"endpoint":{"address":{"socket_address":{"address":"10.0.0.1","port_value":80,"protocol":"UDP"}}}}]}]}"#, "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.protocol"),
        (#"{"cluster_name":"c","policy":{"drop_overloads":[{"category":"a","drop_percentage":{"numerator":1}},{"category":"b","drop_percentage":{"numerator":1}}]}}"#, "policy.drop_overloads"),
        (#"{"cluster_name":"c","policy":{"drop_overloads":[{"category":"","drop_percentage":{"numerator":1}}]}}"#, "policy.drop_overloads[0].category"),
    ])
    func rejectionsNameTheField(json: String, field: String) throws {
        let assignment = try Fixtures.assignment(json)
        do {
            _ = try EndpointSet(assignment)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.resourceType == "ClusterLoadAssignment")
            #expect(error.resourceName == "c")
            #expect(error.field == field, "\(error)")
        }
    }
}
