import Foundation
import Testing
import MeshCore

@Suite struct ConfigStoreTests {
    static func sidecar(_ name: String, namespace: String = "default", label: String = "v1") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels:
            rev: \(label)
        spec:
          egress:
          - hosts: ["./*"]
        """
    }

    final class TempDir {
        let path: String
        init() throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("meshcore-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        func write(_ name: String, _ text: String) throws {
            let url = URL(fileURLWithPath: path).appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        func remove(_ name: String) throws {
            try FileManager.default.removeItem(atPath: (path as NSString).appendingPathComponent(name))
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    func key(_ name: String, _ ns: String = "default") -> ResourceKey {
        ResourceKey(kind: .sidecar, namespace: ns, name: name)
    }

    @Test func inMemoryStoreEmitsEvents() async {
        let store = InMemoryConfigStore()
        let events = await store.changes()
        let a = AnyResource(meta: ObjectMeta(name: "a"), spec: Sidecar())
        var b = a
        b.meta.labels = ["x": "y"]
        #expect(await store.apply(a) == .added(a))
        #expect(await store.apply(a) == nil, "re-applying an identical resource is not a change")
        #expect(await store.apply(b) == .updated(old: a, new: b))
        #expect(await store.delete(a.key) == .deleted(b))
        #expect(await store.delete(a.key) == nil)
        await store.shutdown()
        var seen: [ConfigEvent] = []
        for await e in events { seen.append(e) }
        #expect(seen == [.added(a), .updated(old: a, new: b), .deleted(b)])
    }

    @Test func loadsFolderRecursivelySkippingHiddenAndOtherFiles() async throws {
        let dir = try TempDir()
        try dir.write("a.yaml", Self.sidecar("a"))
        try dir.write("sub/b.yml", Self.sidecar("b", namespace: "prod"))
        try dir.write("c.json", #"{"apiVersion":"networking.istio.io/v1","kind":"Sidecar","metadata":{"name":"c"},"spec":{"egress":[{"hosts":["*/*"]}]}}"#)
        try dir.write(".hidden/d.yaml", Self.sidecar("d"))
        try dir.write("notes.txt", "not config")
        let store = DirectoryConfigStore(directory: dir.path)
        let report = await store.reload()
        #expect(report.acceptedFiles.count == 3)
        #expect(await store.all().map(\.meta.name) == ["a", "c", "b"])
        #expect(await store.get(key("b", "prod")) != nil)
    }

    @Test func followsEditsAdditionsAndDeletions() async throws {
        let dir = try TempDir()
        try dir.write("a.yaml", Self.sidecar("a"))
        let store = DirectoryConfigStore(directory: dir.path)
        await store.reload()
        let events = await store.changes()
        var iterator = events.makeAsyncIterator()

        try dir.write("a.yaml", Self.sidecar("a", label: "v2"))
        await store.reload()
        guard case .updated(let old, let new)? = await iterator.next() else { Issue.record("expected update"); return }
        #expect(old.meta.labels["rev"] == "v1")
        #expect(new.meta.labels["rev"] == "v2")

        try dir.write("b.yaml", Self.sidecar("b"))
        await store.reload()
        #expect(await iterator.next() == .added(try #require(await store.get(key("b")))))

        try dir.remove("a.yaml")
        let report = await store.reload()
        #expect(report.removedFiles.count == 1)
        guard case .deleted(let gone)? = await iterator.next() else { Issue.record("expected delete"); return }
        #expect(gone.meta.name == "a")
        #expect(await store.all().map(\.meta.name) == ["b"])
    }

    @Test func badEditKeepsLastGoodVersion() async throws {
        let dir = try TempDir()
        try dir.write("a.yaml", Self.sidecar("a") + "\n---\n" + Self.sidecar("a2"))
        let store = DirectoryConfigStore(directory: dir.path)
        await store.reload()

        // One good and one invalid document: the whole file is rejected, both old resources stay.
        try dir.write("a.yaml", Self.sidecar("a", label: "v2") + "\n---\n" + Self.sidecar("Bad_Name"))
        let report = await store.reload()
        #expect(report.rejectedFiles == ["\(dir.path)/a.yaml"])
        let errors = report.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1)
        #expect(errors.first?.description.contains("a.yaml:15: Sidecar default/Bad_Name: metadata.name: invalid name") == true, "\(errors)")
        #expect(await store.get(key("a"))?.meta.labels["rev"] == "v1")
        #expect(await store.get(key("a2")) != nil)
        #expect(await store.diagnostics.count == 1)

        // A syntax error is rejected the same way.
        try dir.write("a.yaml", "apiVersion: [unclosed")
        #expect(await store.reload().rejectedFiles.count == 1)
        #expect(await store.all().count == 2)

        // Fixing the file applies it and clears the diagnostics.
        try dir.write("a.yaml", Self.sidecar("a", label: "v3"))
        #expect(await store.reload().acceptedFiles.count == 1)
        #expect(await store.get(key("a"))?.meta.labels["rev"] == "v3")
        #expect(await store.get(key("a2")) == nil)
        #expect(await store.diagnostics.isEmpty)
    }

    @Test func rejectedNewFileContributesNothing() async throws {
        let dir = try TempDir()
        try dir.write("a.yaml", "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: a}\nspec: {nope: 1}\n")
        let store = DirectoryConfigStore(directory: dir.path)
        let report = await store.reload()
        #expect(report.diagnostics.map(\.description) == ["\(dir.path)/a.yaml:4: Sidecar default/a: spec.nope: unknown field \"nope\""])
        #expect(await store.all().isEmpty)
    }

    @Test func duplicateDefinitionsAreRejected() async throws {
        let dir = try TempDir()
        try dir.write("a.yaml", Self.sidecar("x"))
        try dir.write("b.yaml", Self.sidecar("x", label: "other"))
        let store = DirectoryConfigStore(directory: dir.path)
        let report = await store.reload()
        #expect(report.rejectedFiles == ["\(dir.path)/b.yaml"])
        #expect(report.diagnostics.first?.message.contains("already defined in \(dir.path)/a.yaml:1") == true)
        #expect(await store.get(key("x"))?.meta.labels["rev"] == "v1")

        try dir.write("c.yaml", Self.sidecar("y") + "\n---\n" + Self.sidecar("y"))
        let second = await store.reload()
        #expect(second.diagnostics.contains { $0.message.contains("defined twice in this file") })
        #expect(await store.get(key("y")) == nil)
    }

    @Test func runFollowsTheFolderUntilCancelled() async throws {
        let dir = try TempDir()
        let store = DirectoryConfigStore(directory: dir.path)
        let events = await store.changes()
        let task = Task { try await store.run(pollInterval: .milliseconds(20)) }
        try dir.write("a.yaml", Self.sidecar("a"))
        var iterator = events.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.resource.meta.name == "a")
        task.cancel()
        _ = await task.result
    }
}
