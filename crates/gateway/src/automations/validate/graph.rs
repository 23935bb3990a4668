//! The steps as a graph: every step reachable from the first, and no loop a run could go
//! round without waiting for the visitor.

use super::violation;
use crate::model::Violation;

/// One step, as far as its checks found it: its id, its kind, and the branches it names
/// (branch name, index of the step it leads to).
#[derive(Debug, Default)]
pub(super) struct Node {
    pub id: Option<String>,
    pub kind: Option<&'static str>,
    pub edges: Vec<(String, usize)>,
}

/// Kinds that stop for the visitor: a loop through one waits each time round.
fn pauses(kind: Option<&str>) -> bool {
    matches!(kind, Some("wait" | "ask"))
}

/// Where each step can go next. A step of a kind that does not branch goes to its `next`,
/// else to the step after it in the list; a step whose kind is unknown (already a
/// violation) is taken to do the same, so one mistake does not make the steps after it
/// look unreachable.
fn successors(nodes: &[Node]) -> Vec<Vec<usize>> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| match n.kind {
            Some("wait" | "ask" | "branch" | "handover" | "end") => {
                n.edges.iter().map(|(_, to)| *to).collect()
            }
            _ => match n.edges.iter().find(|(b, _)| b == "next") {
                Some((_, to)) => vec![*to],
                None if i + 1 < nodes.len() => vec![i + 1],
                None => Vec::new(),
            },
        })
        .collect()
}

/// Every step `from` reaches, following `succ` (`from` itself only through a loop).
fn reach(succ: &[Vec<usize>], from: usize, through: impl Fn(usize) -> bool) -> Vec<bool> {
    let mut seen = vec![false; succ.len()];
    let mut stack: Vec<usize> = succ[from].clone();
    while let Some(n) = stack.pop() {
        if n < seen.len() && !seen[n] {
            seen[n] = true;
            if through(n) {
                stack.extend(&succ[n]);
            }
        }
    }
    seen
}

fn name(nodes: &[Node], i: usize) -> String {
    match &nodes[i].id {
        Some(id) => format!("`{id}`"),
        None => format!("steps[{i}]"),
    }
}

pub(super) fn check(nodes: &[Node]) -> Vec<Violation> {
    let mut out = Vec::new();
    if nodes.is_empty() {
        return out;
    }
    let succ = successors(nodes);

    // Loops: among the steps that do not pause, a step that reaches itself is on a loop a
    // run would go round for ever. Each such loop (its strongly connected steps) is reported
    // once, on its step first in the list.
    let quick: Vec<bool> = nodes.iter().map(|n| !pauses(n.kind)).collect();
    let reaches: Vec<Vec<bool>> = (0..nodes.len())
        .map(|i| {
            if quick[i] {
                reach(&succ, i, |n| quick[n])
            } else {
                vec![false; nodes.len()]
            }
        })
        .collect();
    let mut reported = vec![false; nodes.len()];
    for i in 0..nodes.len() {
        if !quick[i] || !reaches[i][i] || reported[i] {
            continue;
        }
        let members: Vec<usize> = (0..nodes.len())
            .filter(|&j| quick[j] && reaches[i][j] && reaches[j][i])
            .collect();
        for &j in &members {
            reported[j] = true;
        }
        let names: Vec<String> = members.iter().map(|&j| name(nodes, j)).collect();
        out.push(violation(
            "cycle",
            format!("steps[{i}]"),
            format!(
                "{} loop without a `wait` or `ask` step: a run would go round it without ever stopping",
                names.join(", ")
            ),
        ));
    }

    // Unreachable: a step no path from the first one leads to would never run.
    let mut reachable = reach(&succ, 0, |_| true);
    reachable[0] = true;
    for (i, r) in reachable.iter().enumerate() {
        if !r {
            out.push(violation(
                "unreachable",
                format!("steps[{i}]"),
                format!(
                    "{} is not reached from the first step: nothing leads to it",
                    name(nodes, i)
                ),
            ));
        }
    }
    out
}
