//! The category tree (工单分类): any depth in storage; the UI shows three levels.

use crate::Code;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{CategoryId, FormId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Category {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub name_zh: String,
    pub name_en: String,
    pub position: i64,
    /// The form for tickets in this category; subcategories without one inherit it.
    pub form_id: Option<crate::ids::FormId>,
    pub active: bool,
}

/// Guards against a walk that never ends on corrupt data.
const MAX_DEPTH: usize = 64;

/// The path from the root down to `id` (inclusive). Empty if `id` is unknown.
pub fn path(cats: &[Category], id: CategoryId) -> Vec<&Category> {
    let mut out = Vec::new();
    let mut cur = Some(id);
    while let Some(c) = cur.and_then(|c| cats.iter().find(|x| x.id == c)) {
        out.push(c);
        if out.len() > MAX_DEPTH {
            break;
        }
        cur = c.parent_id;
    }
    out.reverse();
    out
}

/// Whether `id` is `root` or lies below it.
pub fn is_under(cats: &[Category], id: CategoryId, root: CategoryId) -> bool {
    path(cats, id).iter().any(|c| c.id == root)
}

/// `root` and all categories below it.
pub fn subtree(cats: &[Category], root: CategoryId) -> Vec<CategoryId> {
    cats.iter().filter(|c| is_under(cats, c.id, root)).map(|c| c.id).collect()
}

/// The form that applies to a category: its own, or the nearest ancestor's.
pub fn form_for(cats: &[Category], id: CategoryId) -> Option<FormId> {
    path(cats, id).iter().rev().find_map(|c| c.form_id)
}

/// Rejects a parent that would put the category inside its own subtree.
pub fn check_parent(cats: &[Category], id: Option<CategoryId>, parent: Option<CategoryId>) -> Result<(), DomainError> {
    let Some(parent) = parent else { return Ok(()) };
    if !cats.iter().any(|c| c.id == parent) {
        return Err(DomainError::invalid("parent_id", Code::MissingReference, "no such category"));
    }
    if let Some(id) = id
        && is_under(cats, parent, id)
    {
        return Err(DomainError::invalid("parent_id", Code::Cycle, "a category cannot move below itself"));
    }
    if path(cats, parent).len() >= MAX_DEPTH {
        return Err(DomainError::invalid("parent_id", Code::TooDeep, "the tree is too deep"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(id: i64, parent: Option<i64>, form: Option<i64>) -> Category {
        Category {
            id: CategoryId(id),
            parent_id: parent.map(CategoryId),
            name_zh: format!("分类{id}"),
            name_en: format!("cat {id}"),
            position: 0,
            form_id: form.map(FormId),
            active: true,
        }
    }

    fn tree() -> Vec<Category> {
        // 1 硬件 → 2 打印机 → 3 激光; 4 软件
        vec![cat(1, None, Some(10)), cat(2, Some(1), None), cat(3, Some(2), Some(30)), cat(4, None, None)]
    }

    #[test]
    fn path_and_subtree() {
        let t = tree();
        let p: Vec<i64> = path(&t, CategoryId(3)).iter().map(|c| c.id.0).collect();
        assert_eq!(p, vec![1, 2, 3]);
        assert!(is_under(&t, CategoryId(3), CategoryId(1)));
        assert!(!is_under(&t, CategoryId(4), CategoryId(1)));
        let mut s: Vec<i64> = subtree(&t, CategoryId(1)).iter().map(|c| c.0).collect();
        s.sort();
        assert_eq!(s, vec![1, 2, 3]);
    }

    #[test]
    fn form_is_inherited_from_the_nearest_ancestor() {
        let t = tree();
        assert_eq!(form_for(&t, CategoryId(2)), Some(FormId(10)));
        assert_eq!(form_for(&t, CategoryId(3)), Some(FormId(30)));
        assert_eq!(form_for(&t, CategoryId(4)), None);
    }

    #[test]
    fn moving_below_itself_is_rejected() {
        let t = tree();
        assert_eq!(check_parent(&t, Some(CategoryId(1)), Some(CategoryId(3))).map_err(|e| e.code()), Err("cycle"));
        assert_eq!(check_parent(&t, Some(CategoryId(1)), Some(CategoryId(1))).map_err(|e| e.code()), Err("cycle"));
        assert!(check_parent(&t, Some(CategoryId(4)), Some(CategoryId(3))).is_ok());
        assert_eq!(check_parent(&t, None, Some(CategoryId(99))).map_err(|e| e.code()), Err("not_found"));
    }
}
