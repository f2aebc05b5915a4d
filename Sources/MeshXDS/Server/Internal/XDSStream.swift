import GRPCCore

/// Runs one ADS stream: merges the proxy's requests, the node's snapshots and operator controls
/// into one sequence of events, feeds them to a state machine and carries out its actions.
struct XDSStream<Machine: XDSStreamStateMachine> {
    let watcher: any ConfigWatcher
    let callbacks: any XDSServerCallbacks
    let registry: ConnectionRegistry

    private enum Event: Sendable {
        case request(Machine.Request)
        case requestsEnded((any Error)?)
        case snapshot(Snapshot)
        case control(ConnectionRegistry.StreamControl)
    }

    func run(
        requests: RPCAsyncSequence<Machine.Request, any Error>,
        writer: RPCWriter<Machine.Response>,
        peer: String
    ) async throws {
        let (events, input) = AsyncStream.makeStream(of: Event.self)
        let status = await registry.open(mode: Machine.mode, peer: peer) { input.yield(.control($0)) }
        var info = XDSConnectionInfo(connectionID: status.connectionID, mode: Machine.mode, peer: peer, node: nil)
        callbacks.streamOpened(info)
        var failure: (any Error)?
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await request in requests { input.yield(.request(request)) }
                        input.yield(.requestsEnded(nil))
                    } catch {
                        input.yield(.requestsEnded(error))
                    }
                }
                var machine = Machine()
                loop: for await event in events {
                    let actions: [Machine.Action]
                    switch event {
                    case .request(let request):
                        actions = machine.receive(request)
                        // The first request names the node: let the callback see it.
                        for case .startWatch(let node) in actions where info.node == nil { info.node = node }
                        Machine.didReceive(request, callbacks: callbacks, on: info)
                    case .snapshot(let snapshot):
                        actions = machine.snapshotChanged(snapshot)
                    case .control(.push(let full)):
                        actions = machine.pushRequested(full: full)
                    case .control(.close), .requestsEnded:
                        break loop
                    }
                    for action in actions {
                        switch action {
                        case .startWatch(let node):
                            info.node = node
                            await registry.setNode(info.connectionID, node: node)
                            let watcher = self.watcher
                            group.addTask {
                                for await snapshot in await watcher.snapshots(for: node) {
                                    input.yield(.snapshot(snapshot))
                                }
                            }
                        case .send(let response, let sent):
                            try await writer.write(response)
                            await registry.recordSent(info.connectionID, sent)
                            Machine.didSend(response, callbacks: callbacks, on: info)
                        case .ack(let typeURL, let version, let nonce):
                            await registry.recordAck(info.connectionID, typeURL: typeURL, version: version, nonce: nonce)
                            callbacks.acknowledged(typeURL: typeURL, version: version, nonce: nonce, on: info)
                        case .nack(let typeURL, let version, let nonce, let detail):
                            await registry.recordNack(info.connectionID, typeURL: typeURL, version: version, nonce: nonce, errorDetail: detail)
                            callbacks.rejected(typeURL: typeURL, version: version, nonce: nonce, errorDetail: detail, on: info)
                        case .subscribed(let typeURL, let subscription):
                            await registry.recordSubscription(info.connectionID, typeURL: typeURL, subscription)
                        case .fail(let error):
                            throw error
                        }
                    }
                }
                input.finish()
                group.cancelAll()
            }
        } catch {
            failure = error
        }
        input.finish()
        await registry.close(info.connectionID)
        callbacks.streamClosed(info, error: failure)
        if let failure { throw failure }
    }
}
