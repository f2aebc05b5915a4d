import Testing
import MeshTelemetry

@Suite struct PrometheusTextTests {
    @Test func escapesLabelValues() {
        #expect(PrometheusText.escapeLabelValue(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
    }

    @Test func formatsSamples() {
        #expect(PrometheusText.sample("istio_requests_total", labels: [("response_code", "200"), ("reporter", "destination")], value: 3)
            == #"istio_requests_total{response_code="200",reporter="destination"} 3"#)
        #expect(PrometheusText.sample("x", labels: [], value: 0.5) == "x 0.5")
        #expect(PrometheusText.sample("x", labels: [], value: .infinity) == "x +Inf")
    }

    @Test func standardMetricNamesAndLabelsAreValid() {
        for metric in StandardMetric.all {
            #expect(PrometheusText.isValidName(metric.name))
            for label in metric.labels { #expect(PrometheusText.isValidName(label, label: true)) }
        }
        #expect(StandardMetric.requestsTotal.labels.contains("response_code"))
        #expect(!StandardMetric.tcpSentBytes.labels.contains("response_code"))
        #expect(!PrometheusText.isValidName("9lives"))
        #expect(!PrometheusText.isValidName("a:b", label: true))
    }
}
