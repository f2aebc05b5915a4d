import MeshCore

/// Istio's list operations on filters and routes (`insertBeforeFunc`, `insertAfterFunc`, `replaceFunc`).
enum ListPatch {
    /// Applies an ADD / INSERT_* / REPLACE / REMOVE patch to `list`.
    ///
    /// - Parameters:
    ///   - hasMatch: whether the patch names an element (a filter, sub-filter or route); without one,
    ///     INSERT_BEFORE and INSERT_FIRST prepend, INSERT_AFTER appends, REPLACE and REMOVE do nothing.
    ///   - matches: whether an element is the one the patch names.
    ///   - insertFirstNeedsMatch: HTTP_ROUTE's INSERT_FIRST prepends only when a named route exists;
    ///     filters' INSERT_FIRST always prepends.
    static func apply<Element>(
        _ operation: EnvoyFilter.Patch.Operation, value: @autoclosure () -> Element, to list: inout [Element],
        hasMatch: Bool, insertFirstNeedsMatch: Bool = false, matches: (Element) -> Bool
    ) {
        switch operation {
        case .ADD:
            list.append(value())
        case .INSERT_FIRST:
            if insertFirstNeedsMatch, hasMatch, !list.contains(where: matches) { return }
            list.insert(value(), at: 0)
        case .INSERT_BEFORE:
            guard hasMatch else { list.insert(value(), at: 0); return }
            if let i = list.firstIndex(where: matches) { list.insert(value(), at: i) }
        case .INSERT_AFTER:
            guard hasMatch else { list.append(value()); return }
            if let i = list.firstIndex(where: matches) { list.insert(value(), at: i + 1) }
        case .REPLACE:
            guard hasMatch else { return }
            if let i = list.firstIndex(where: matches) { list[i] = value() }
        case .REMOVE:
            guard hasMatch else { return }
            list.removeAll(where: matches)
        case .MERGE, .INVALID, .MERGE_AND_REPLACE_LIST:
            break
        }
    }
}
