; Queries written for cstpack's tests (Rust).
(function_item name: (identifier) @fn.name parameters: (parameters) @params) @fn
(impl_item type: (type_identifier) @impl.type !trait) @inherent.impl
(impl_item trait: (type_identifier) @trait) @trait.impl
(call_expression function: [(identifier) @callee (field_expression field: (field_identifier) @method)])
(macro_invocation macro: (identifier) @macro "!")
((identifier) @constant (#match? @constant "^[A-Z][A-Z\\d_]+$"))
(match_expression (match_block (match_arm)+ @arms))
(struct_item name: (type_identifier) @struct (field_declaration_list . (field_declaration) @first.field))
[(line_comment) (block_comment)] @comment
(_ (ERROR) @error)
